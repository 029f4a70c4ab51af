from cms_graph.cli import main

main()
