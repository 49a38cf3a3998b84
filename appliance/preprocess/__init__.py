"""Preprocessing: raw RFC 822 mail → typed, decoded, cleaned text for extraction."""

from appliance.preprocess.body import Attachment
from appliance.preprocess.mime import ParsedMail, parse_mail

__all__ = ["Attachment", "ParsedMail", "parse_mail"]
