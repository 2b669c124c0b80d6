"""Header names of exchange.md §2 (and the few the hub adds to its replies)."""

from __future__ import annotations

MSG_ID = "Nats-Msg-Id"
FILE_NAME = "Oms-File-Name"
OBJECT = "Oms-Object"
SHA256 = "Oms-Sha256"
# added by the hub on every protocol so a gateway can match it to its publish
RECEIPT = "Oms-Receipt"  # OMS_IN stream sequence of the message being answered
RESULT = "Oms-Result"  # A, P or R
# on a register forwarded to the paying СМО
SOURCE = "Oms-Source"  # SHA-256 of the МО's package the records come from
RECORDS = "Oms-Records"  # how many records the forwarded register holds
