import sys

from scraper.app.cli import main

sys.exit(main())
