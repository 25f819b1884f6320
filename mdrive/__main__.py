from mdrive.cli import main

raise SystemExit(main())
