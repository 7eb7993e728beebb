"""The hall calling board: a TV in the waiting area showing calls, queues, clock and notices."""
