from storeforever.cli import main

raise SystemExit(main())
