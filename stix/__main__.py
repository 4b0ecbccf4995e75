from stix.cli import main

main()
