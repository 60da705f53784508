"""Export to ONNX, checked against ONNX Runtime: any network (:func:`to_onnx`) and a whole run
folder with its input scaler and class labels (:func:`export_run`, ``deepnets export RUN --onnx``).

onnx, onnxruntime and onnxscript are imported only when an export runs (``pip install
'deepnets[onnx]'``).
"""

from .onnx import OPSET, max_abs_difference, metadata_of, onnx_session, run_onnx, to_onnx
from .run import export_run, run_graph

__all__ = ["to_onnx", "export_run", "run_graph", "onnx_session", "run_onnx", "max_abs_difference",
           "metadata_of", "OPSET"]
