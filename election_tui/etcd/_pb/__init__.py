"""Generated etcd stubs (do not edit: run scripts/gen_protos.py)."""
