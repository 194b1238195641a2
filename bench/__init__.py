"""``make bench``: measures DESIGN §11's performance figures on the local stack (never optimises anything)."""
