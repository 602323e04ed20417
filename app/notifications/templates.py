"""Message texts per kind, in zh-Hans and English.

Texts are ``str.format`` strings whose fields are the kind's params. SMS senders in mainland
China must begin each message with the sender's signature in 【】 brackets; the English texts
keep the same shape with [].
"""

from __future__ import annotations

from string import Formatter

TEMPLATES: dict[str, dict[str, str]] = {
    "sms_code": {
        "zh-Hans": "【通办】验证码 {code}，{minutes} 分钟内有效。请勿告诉他人。",
        "en": "[Tongban] Your code is {code}, valid for {minutes} minutes. Do not share it.",
    },
    "passkey_added": {
        "zh-Hans": "【通办】您的账号刚刚添加了一个通行密钥。如非本人操作，请立即登录通办删除它。",
        "en": (
            "[Tongban] A passkey was just added to your account. "
            "If this was not you, sign in to Tongban and remove it now."
        ),
    },
    "application_status": {
        "zh-Hans": "【通办】您的办件 {code} 状态更新：{status}。登录通办或凭办件码查询进度。",
        "en": "[Tongban] Your application {code}: {status}. Sign in or track it with the code.",
    },
    "obligation_due": {
        "zh-Hans": "【通办】您的办件 {code} 还需补交“{material}”，请于 {due} 前在通办提交。",
        "en": '[Tongban] Application {code} still needs "{material}"; please hand it in by {due}.',
    },
    "deadlines_digest": {
        "zh-Hans": "【通办】本部门今日有 {soon} 件办件即将到期、{overdue} 件已超期，请登录通办工作台处理。",
        "en": (
            "[Tongban] Your department has {soon} case(s) due within 2 working days and "
            "{overdue} overdue today. Sign in to the Tongban workbench."
        ),
    },
    "complaint_reply": {
        "zh-Hans": "【通办】您的意见（编号 {number}）已有答复，请登录通办查看。",
        "en": "[Tongban] Your feedback (no. {number}) has a reply; sign in to Tongban to read it.",
    },
    "identity_verified": {
        "zh-Hans": "【通办】您的身份已核验通过，账号认证等级提升为 L{level}。",
        "en": "[Tongban] Your identity is verified: your account is now at level L{level}.",
    },
    "identity_rejected": {
        "zh-Hans": "【通办】您的身份核验未通过，请登录通办查看原因后重试，或到政务服务中心窗口核验。",
        "en": (
            "[Tongban] Your identity check did not pass. Sign in to see why and try again, "
            "or have it checked at a service centre counter."
        ),
    },
    # Courier service (app/courier).
    "courier_status": {
        "zh-Hans": "【通办】办件 {code} 的寄递：{status}。登录通办或凭办件码查看进度。",
        "en": "[Tongban] Courier for application {code}: {status}. Sign in or track it with the code.",
    },
    "courier_handover": {
        "zh-Hans": "【通办】办件 {code} 的快递员交接时，请当面告诉他交接码 {handover}。请勿提前告诉他人。",
        "en": (
            "[Tongban] When the courier for application {code} is with you, tell them the "
            "handover code {handover}. Do not share it before."
        ),
    },
    "courier_locker": {
        "zh-Hans": "【通办】办件 {code} 的证照已放入{locker}，取件码 {pickup}。请勿告诉他人。",
        "en": (
            "[Tongban] The licence of application {code} is in the {locker}; "
            "your pickup code is {pickup}. Do not share it."
        ),
    },
    # Appointments (app/appointments): the link lets the person change or cancel signed out.
    "booking_confirmed": {
        "zh-Hans": "【通办】已为您预约{centre} {time}。改约或取消请点击：{link}",
        "en": "[Tongban] Booked: {centre}, {time}. To change or cancel: {link}",
    },
    "booking_reminder": {
        "zh-Hans": "【通办】提醒：您已预约{centre} {time}，请携带：{materials}。",
        "en": "[Tongban] Reminder: {centre}, {time}. Please bring: {materials}.",
    },
    "ticket_called": {
        "zh-Hans": "【通办】请 {number} 号到 {counter} 号窗口办理。",
        "en": "[Tongban] Number {number}, please go to counter {counter}.",
    },
}

# Params that must not stay in the database once the message is sent or given up on.
SECRET_PARAMS: dict[str, frozenset[str]] = {
    "sms_code": frozenset({"code"}),
    "courier_handover": frozenset({"handover"}),
    "courier_locker": frozenset({"pickup"}),
    "booking_confirmed": frozenset({"link"}),
}

SCRUBBED = "***"


def param_names(kind: str) -> frozenset[str]:
    """The fields every language's text of ``kind`` uses."""
    return frozenset(
        field
        for text in TEMPLATES[kind].values()
        for _literal, field, _spec, _conversion in Formatter().parse(text)
        if field
    )
