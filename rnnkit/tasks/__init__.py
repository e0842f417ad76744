"""One package per task; `rnnkit.registry` lists them. No task imports another."""
