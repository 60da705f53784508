#!/bin/bash
# Every check and timing that needs a GPU, in one run for a lent device (its python3 holds a CUDA
# torch; nothing is installed). Results land in $OUT (default benchmarks/results):
#   OUT=/some/dir bash benchmarks/gpu_session.sh
# 1. the optimizers on CUDA, float32 and float64: train, state_dict round trip (tests/optim)
# 2. the deep-networks issue's jobs: 784-300-100-10 MLP epoch, CIFAR ResNet-18 bf16 images/s
# 3. the sequences issue's LSTM: ours (peepholes) vs cuDNN at T=100, B=64, I=128, H=512
set -u
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
export PYTHONPATH=src
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
python3 -m pytest -q -p no:cacheprovider -o addopts="" tests/optim/test_interfaces.py -k cuda 2>&1 | tail -3
python3 benchmarks/bench_gpu.py --out "$OUT/gpu.json" 2>&1 | tail -20
python3 benchmarks/bench_lstm.py --device cuda --I 128 --H 512 --threads 1 --rounds 20 --warmup 3 \
    --machine "lent GPU" --out "$OUT/lstm_gpu.json" 2>&1 | tail -8
