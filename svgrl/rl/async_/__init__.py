"""Magistral's asynchronous RL system (arXiv 2506.10910 §3) on Ray: generator, verifier and
trainer roles in their own modules, joined by `controller`."""
