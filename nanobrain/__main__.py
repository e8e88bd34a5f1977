from nanobrain.cli import main

main()
