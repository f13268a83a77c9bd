"""Compare detectors' outputs with MXNet's as sets of detections: matched share, score and box differences, IoU."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import config  # noqa: E402
from mxconvert import cli, detections  # noqa: E402


def main() -> None:
    p = cli.parser(__doc__)
    p.add_argument("--test_mx_onnx", default=config.TEST_MX_ONNX, help="ONNX list file (as for the ONNX table)")
    p.add_argument("--test_mx_pytorch", default=config.TEST_MX_PYTORCH, help="PyTorch list file")
    detections.add_flags(p)
    cli.run(lambda args: detections.report([args.test_mx_onnx, args.test_mx_pytorch], args), p)


if __name__ == "__main__":
    main()
