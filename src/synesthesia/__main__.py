from synesthesia.cli import app

app()
