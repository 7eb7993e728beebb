"""The satisfaction pad: the citizen rates the service at the counter; no rating lost or counted twice."""
