from scaffold.cli import run

run()
