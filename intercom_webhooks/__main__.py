import sys

from intercom_webhooks.cli import main

sys.exit(main())
