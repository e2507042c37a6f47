"""Push-latency benchmark for live tasking: `python -m bench.realtime` (see __main__)."""
