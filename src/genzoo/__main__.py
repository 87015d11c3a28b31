from genzoo.cli.main import main

raise SystemExit(main())
