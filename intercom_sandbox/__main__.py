import sys

from intercom_sandbox.cli import main

sys.exit(main())
