"""Defaults for every script's flags; a flag on the command line overrides them."""
from mxconvert import DEFAULT_OPSET

# MXNet checkpoint: PREFIX-symbol.json and PREFIX-%04d.params (EPOCH)
PREFIX = "model_mxnet/resnet-18"
EPOCH = 0

# Input: an image file, a .npy NCHW tensor, or a folder of images; images are resized to INPUT_SHAPE (H, W)
INPUT_IMAGE = "photo.bmp"
INPUT_SHAPE = (112, 112)
BATCH_SIZE = 16

# Conversion
ONNX_MODEL = "model_onnx/converted_model.onnx"
ONNX_INPUT_SHAPE = None  # None: from the checkpoint (free image sizes take INPUT_SHAPE), said on one line
OPSET = DEFAULT_OPSET
CONVERSION_LOG = "result/mxnet2onnx_log.txt"
PYTORCH_MODEL = "model_pytorch/model.pth"
KIT_MODEL = "model_pytorch/kit_model.py"
INT8_CPU = "vnni"  # INT8 models: whose MXNet arithmetic PyTorch and ONNX's exact form reproduce (vnni or avx2)
# ONNX: INT8 layers in plain QDQ form for integer kernels (default: on their integers, exact in any runtime)
INT8_KERNELS = False

# Plugins (Python files or modules) converting ops mxconvert cannot know: a graph's Custom ops, a fork's ops
PLUGINS = ()

# Inference outputs (output i >= 1 of a multi-output model goes to <stem>_<i>.npy)
MXNET_MODEL_OUTPUT = "result/mxnet_inference.npy"
ONNX_MX_MODEL_OUTPUT = "result/onnx_mxnet_inference.npy"
ONNXRUNTIME_MODEL_OUTPUT = "result/onnxruntime_inference.npy"
PYTORCH_MODEL_OUTPUT = "result/pytorch_inference.npy"

# Comparison list files
TEST_MX_ONNX = "outputs_comparison/mxnet_onnx_test.txt"
TEST_MX_PYTORCH = "outputs_comparison/mxnet_pytorch_test.txt"
