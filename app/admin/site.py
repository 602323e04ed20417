"""The piccolo-admin application: which tables it offers, how, and who it believes is signed in.

piccolo-admin ships its own sign-in (piccolo ``BaseUser`` rows and ``SessionsBase`` tokens)
and puts its JSON API behind a Starlette ``AuthenticationMiddleware`` with its
``SessionsAuthBackend``. Tongban has no such rows: the gate is ours (app/admin/mount.py runs
our guards first). ``build_admin`` swaps that backend for ``TongbanAdminBackend``, which reads
the person our guards already resolved and hands piccolo a user with the fields of a
``BaseUser`` (admin, not superuser; never a row) so its endpoints find the
``request.user.user`` they expect. piccolo-admin's own entrances (login, logout, change password, MFA set-up) are
refused by the mount, so no other way in exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piccolo_admin.endpoints import AdminRouter, TableConfig, create_admin
from piccolo_admin.translations.data import ENGLISH, SIMPLIFIED_CHINESE
from piccolo_api.crud.endpoints import OrderBy
from piccolo_api.crud.validators import Validators
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.exceptions import HTTPException
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.routing import Mount

from app.accounts.tables import Role
from app.admin import checks
from app.catalogue.tables import (
    Bundle,
    Department,
    GuideQuestion,
    LifeEvent,
    Material,
    ServiceItem,
)
from app.core.i18n import _
from app.licences.tables import LicenceType

# The scope key under which the mount leaves the ``accounts.services.Signed`` our guards found.
SIGNED = "tongban.admin.signed"
CATALOGUE = "事项目录 Catalogue"
LICENCES = "证照 Licences"


async def _no_bulk_delete(_crud: Any, _request: Request) -> None:
    # DELETE on a whole table deletes every row its filters match, without per-row hooks.
    raise HTTPException(status_code=405, detail=_("Delete rows one at a time."))


def _table_configs() -> list[TableConfig]:
    no_bulk = Validators(delete_all=[_no_bulk_delete])
    return [
        TableConfig(
            Department,
            visible_columns=[Department.code, Department.name_zh, Department.name_en],
            link_column=Department.code,
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            LifeEvent,
            visible_columns=[
                LifeEvent.code,
                LifeEvent.name_zh,
                LifeEvent.name_en,
                LifeEvent.position,
            ],
            link_column=LifeEvent.code,
            order_by=[OrderBy(LifeEvent.position)],
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            ServiceItem,
            visible_columns=[
                ServiceItem.code,
                ServiceItem.name_zh,
                ServiceItem.department,
                ServiceItem.promised_days,
                ServiceItem.min_assurance,
                ServiceItem.synthetic,
            ],
            visible_filters=[
                ServiceItem.code,
                ServiceItem.name_zh,
                ServiceItem.department,
                ServiceItem.synthetic,
            ],
            link_column=ServiceItem.code,
            hooks=checks.ITEM_HOOKS,
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            Material,
            visible_columns=[
                Material.item,
                Material.code,
                Material.name_zh,
                Material.kind,
                Material.required,
                Material.condition,
            ],
            visible_filters=[Material.item, Material.code, Material.kind, Material.licence_type],
            link_column=Material.code,
            order_by=[OrderBy(Material.item), OrderBy(Material.position)],
            hooks=checks.MATERIAL_HOOKS,
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            GuideQuestion,
            visible_columns=[
                GuideQuestion.item,
                GuideQuestion.code,
                GuideQuestion.text_zh,
                GuideQuestion.multiple,
            ],
            visible_filters=[GuideQuestion.item, GuideQuestion.code],
            link_column=GuideQuestion.code,
            order_by=[OrderBy(GuideQuestion.item), OrderBy(GuideQuestion.position)],
            hooks=checks.QUESTION_HOOKS,
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            Bundle,
            visible_columns=[Bundle.code, Bundle.name_zh, Bundle.items],
            link_column=Bundle.code,
            order_by=[OrderBy(Bundle.position)],
            hooks=checks.BUNDLE_HOOKS,
            menu_group=CATALOGUE,
            validators=no_bulk,
        ),
        TableConfig(
            LicenceType,
            visible_columns=[LicenceType.code, LicenceType.name_zh, LicenceType.holder_kind],
            link_column=LicenceType.code,
            hooks=checks.LICENCE_TYPE_HOOKS,
            menu_group=LICENCES,
            validators=no_bulk,
        ),
    ]


@dataclass(frozen=True, slots=True)
class AdminAccount:
    """What piccolo's endpoints read from ``request.user.user`` (piccolo ``BaseUser`` fields).
    A plain value, not a ``BaseUser`` row: none is ever saved, and constructing one would hash
    a default password (0.2 s) on every request."""

    id: int
    username: str
    admin: bool = True
    superuser: bool = False
    active: bool = True


class AdminUser(BaseUser):
    """The Starlette user piccolo-admin sees: the shape of ``piccolo_api.shared.auth.User``."""

    def __init__(self, account: AdminAccount) -> None:
        self.user = account

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def display_name(self) -> str:
        return self.user.username

    @property
    def identity(self) -> str:
        return str(self.user.id)


class TongbanAdminBackend(AuthenticationBackend):
    """Believes only what our guards found: an active admin whose session was opened with a
    passkey. It checks again, so that the API refuses even if the mount lost its guards."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, AdminUser]:
        signed = conn.scope.get(SIGNED)
        if signed is None or signed.account.role != Role.ADMIN or signed.method != "passkey":
            raise AuthenticationError("admin with a passkey session only")
        account = signed.account
        user = AdminAccount(id=account.id, username=account.name or f"admin-{account.id}")
        return AuthCredentials(["authenticated"]), AdminUser(user)


def build_admin(allowed_hosts: list[str]) -> AdminRouter:
    admin: AdminRouter = create_admin(
        _table_configs(),
        site_name="通办 Tongban",
        default_language_code="zh-CN",
        translations=[SIMPLIFIED_CHINESE, ENGLISH],
        # Only these tables: no related table (accounts!) is pulled in behind our back.
        auto_include_related=False,
        # piccolo's CSRF check compares Origin/Referer with these hosts under HTTPS.
        allowed_hosts=allowed_hosts,
        production=True,
        sidebar_links={"通办 Tongban": "/", "我的账号 Account": "/account"},
    )
    api = next(route for route in admin.routes if isinstance(route, Mount) and route.path == "/api")
    if not isinstance(api.app, AuthenticationMiddleware):
        raise RuntimeError("piccolo-admin no longer guards /api with AuthenticationMiddleware")
    api.app.backend = TongbanAdminBackend()
    return admin
