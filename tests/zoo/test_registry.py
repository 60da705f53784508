"""The zoo's registry and model table."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.zoo import ZOO, build, model_table

PUBLISHED = {
    "lenet5": 60_000, "alexnet": 61_100_840, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "googlenet": 6_624_904, "resnet18": 11_689_512, "resnet34": 21_797_672,
    "resnet50": 25_557_032, "resnet101": 44_549_160, "resnet152": 60_192_808,
    "inception_v4": 42_679_816, "inception_resnet_v2": 55_843_464,
}


def test_model_table_rows():
    rows = {name: (params, macs, shape) for name, params, macs, shape in model_table()}
    assert list(rows) == list(ZOO)
    for name, params in PUBLISHED.items():
        assert rows[name][0] == params
    # LeNet-5's multiply-accumulates: C1 28*28*6*25, C3 10*10*60*25, C5 120*400, F6 84*120, RBF 10*84
    assert rows["lenet5"][1] == 117_600 + 150_000 + 48_000 + 10_080 + 840
    assert rows["inception_resnet_v2"][2] == (3, 299, 299)
    assert all(macs > 0 for _, macs, _ in rows.values())


@pytest.mark.parametrize("name", list(ZOO))
def test_every_builder_takes_num_classes_and_in_channels(name):
    shape = ZOO[name].input_shape
    with torch.device("meta"):
        net = build(name, num_classes=5, in_channels=2).eval()
        assert net(torch.zeros(1, 2, *shape[1:])).shape == (1, 5)


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ConfigError, match="resnet18"):
        build("resnet19")
    with pytest.raises(ConfigError, match="in_channels"):
        build("vgg16", in_channels=0)
