from checkforensics.cli import main

main()
