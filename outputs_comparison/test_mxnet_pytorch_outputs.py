"""Compare PyTorch outputs with the original MXNet outputs."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import config  # noqa: E402
from mxconvert import cli, compare  # noqa: E402


def main() -> None:
    p = cli.parser(__doc__)
    compare.add_list_flag(p, "--test_mx_pytorch", config.TEST_MX_PYTORCH, compare.PYTORCH)
    compare.add_report_flags(p)
    cli.run(lambda args: compare.report(args.test_mx_pytorch, compare.PYTORCH, args), p)


if __name__ == "__main__":
    main()
