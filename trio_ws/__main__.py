"""``python -m trio_ws``: the ``trio-ws`` command line (see ``trio_ws._cli``)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m trio_ws"))
