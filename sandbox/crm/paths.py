"""The Salesforce URL layout the CRM sandbox answers."""

import re

API_VERSION = "v60.0"
TOKEN_PATH = "/services/oauth2/token"
DATA_PREFIX = "/services/data"
VERSION = re.compile(r"^v\d+\.\d$")
