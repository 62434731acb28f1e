from audiobatch.cli import main

main()
