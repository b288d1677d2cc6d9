"""The ledger's fixed vocabularies (statuses, group kinds, roles…), importable without loading SQLAlchemy."""

from __future__ import annotations

REPORT_STATUSES = ("reported", "rectifying", "rectified", "closed", "rejected", "duplicate")
OPEN_STATUSES = ("reported", "rectifying")
GROUP_KINDS = ("village", "station", "enterprise", "leadership")
# admin: the town safety office (everything, tips included); station: town-wide hazards, no tips unless granted;
# village: only its own village's hazards and groups.
ROLES = ("admin", "station", "village")
# Kinds a group may get from its title alone; the others are granted by an admin.
SELF_TAG_KINDS = ("village",)
OUTBOX_STATUSES = ("queued", "sent", "failed", "blocked")
BROADCAST_STATUSES = ("pending", "confirmed", "finished")
REVIEW_STATUSES = ("pending", "filed", "ignored", "expired")
CORRECTION_CHATS = ("group", "private")
CORRECTION_INTENTS = ("hazard", "tip", "chatter")
CORRECTION_SOURCES = ("review_file", "review_ignore", "reply_file", "false_alarm", "private_confirm")
# The 五落实 of a major hazard (原安监总局16号令 第十五条): 目标任务, 经费物资, 机构人员, 时间要求, 安全措施和应急预案.
FIVE_ITEMS = ("goal", "funds", "staff", "schedule", "safety")
ACCEPTANCE_VERDICTS = ("passed", "failed")
ATTACHMENT_ROLES = ("before", "after")
TIP_MESSAGE_KINDS = ("question", "answer")
REWARD_CATEGORIES = ("major_hazard", "violation", "general")
REWARD_STATUSES = ("pending", "paid", "expired", "void")
