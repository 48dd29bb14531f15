"""Store the Zalo OA refresh token an operator copied from the Zalo developer console: first set-up, or a
re-link after the refresh token was lost or refused (docs/production.md, "Zalo credentials").

Run where the workers' settings are (PLANCYCLE_DATABASE_URL, PLANCYCLE_ZALO_APP_ID):

    python deploy/save-zalo-tokens.py            # asks for the token; nothing is echoed or printed
    docker compose run --rm migrate python deploy/save-zalo-tokens.py

The token is read from the terminal, or from standard input when there is none. The next send refreshes
the access token with it (tasks/notify/zalo_tokens.py) and stores the rotated pair.
"""

from __future__ import annotations

import sys
from getpass import getpass

from models.db import session_scope
from plancycle.settings import get_settings
from tasks.notify import save_zalo_credentials


def main() -> int:
    app_id = get_settings().zalo_app_id
    if not app_id:
        sys.stderr.write("PLANCYCLE_ZALO_APP_ID is not set\n")
        return 2
    refresh_token = (getpass("Zalo refresh token: ") if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not refresh_token:
        sys.stderr.write("no refresh token given: nothing saved\n")
        return 2
    with session_scope() as session:
        save_zalo_credentials(session=session, app_id=app_id, refresh_token=refresh_token)
    sys.stdout.write(f"Zalo refresh token saved for app {app_id}.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
