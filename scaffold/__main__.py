from scaffold.start import main

main()
