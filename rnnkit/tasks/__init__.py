"""One module per task; `rnnkit.registry` lists them."""
