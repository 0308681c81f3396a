"""Compatibility path ``fastware.auth`` (fastware 0.6.3): everything of fastware-auth.

0.6.3's names (``create_token``, ``verify_token``, ``hash_password``, ``verify_password``,
``UserStore``, ``JSONFileUserStore``, ``get_current_user``, ``require_role``,
``CSRFMiddleware``, ``set_session_cookies``, ``clear_session_cookies``, ``rate_limit``) and
the new ones (``Auth``, ``SQLiteUserStore``, the Redis backends, ...). Importing it does not
import PyJWT, bcrypt or redis; each loads when first needed.
"""

from __future__ import annotations

from fastware_auth import *  # noqa: F403
from fastware_auth import __all__ as _exported

__all__ = tuple(name for name in _exported if name != "__version__")
