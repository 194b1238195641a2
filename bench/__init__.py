"""``make bench``: measures the service's performance figures on the local stack (never optimises anything)."""
