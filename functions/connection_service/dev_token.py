"""Print a development JWT signed with the secret the local gateway uses (``make token``)."""

from __future__ import annotations

import argparse
import time

from .settings import Settings
from .tokens import issue_token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make token", description=__doc__)
    parser.add_argument("--tenant", default="dev-tenant", help="tenant id (the tenant claim)")
    parser.add_argument("--user", default="dev-user", help="user id (the sub claim)")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    # Local gateway semantics: JWT_SECRET when set, else the development default.
    settings = Settings(local=True)
    secret = settings.jwt_secret.get_secret_value()
    print(issue_token(secret, args.tenant, args.user, args.ttl, time.time(), settings.jwt_tenant_claim))


if __name__ == "__main__":
    main()
