"""Signed JWTs carrying the claims ``sub``, ``role``, ``unit`` and ``amr``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from cms_graph.application.identity import Principal
from cms_graph.domain.errors import Unauthenticated
from cms_graph.domain.units import UnitHierarchy
from cms_graph.domain.values import Role

ALGORITHM = "HS256"


class TokenService:
    def __init__(self, secret: str, *, issuer: str, units: UnitHierarchy) -> None:
        self._secret = secret
        self.issuer = issuer
        self.units = units

    def issue(
        self,
        *,
        subject: str,
        role: Role,
        unit_id: str,
        mfa: bool = False,
        lifetime: timedelta = timedelta(hours=12),
    ) -> str:
        self.units.get(unit_id)
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "role": role.value,
            "unit": unit_id,
            "amr": ["pwd", "otp"] if mfa else ["pwd"],
            "iss": self.issuer,
            "iat": now,
            "exp": now + lifetime,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Principal:
        """Return the principal named by a valid token; raise Unauthenticated otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                options={"require": ["sub", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired; sign in again") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "the token's signature does not match this server's key; make a new one"
                " with 'cms-graph token' using the server's CMS_JWT_SECRET or CMS_DATA_DIR"
            ) from None
        except jwt.DecodeError:
            raise Unauthenticated("the token is not a JWT; send 'Bearer <token>'") from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the token is invalid: {error}") from None

        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise Unauthenticated(
                f"the token's role claim {claims.get('role')!r} is not a role"
            ) from None
        unit_id = claims.get("unit")
        if not isinstance(unit_id, str) or unit_id not in self.units:
            raise Unauthenticated(f"the token's unit claim {unit_id!r} is not a configured unit")
        amr = claims.get("amr") or []
        if not isinstance(amr, list):
            raise Unauthenticated("the token's amr claim must be a list of strings")
        return Principal(
            user_id=str(claims["sub"]), role=role, unit_id=unit_id, amr=tuple(map(str, amr))
        )


__all__ = ["TokenService"]
