"""What the routes do, without HTTP: each function takes a store session and plain values."""
