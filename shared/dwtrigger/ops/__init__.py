"""What only operators run: the command line, the emulator and the tools behind them. Nothing under `dwtrigger`
outside this folder imports it, and `deploy/package.py` leaves the whole folder out of every FC package."""
