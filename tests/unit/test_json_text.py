"""JSON columns are written by orjson; what is stored reads back as json.dumps would write it."""

import json

from portal.db import json_text
from portal.routing.breakdown import Reason


def test_stored_json_reads_back_as_the_standard_library_writes_it():
    value = {
        "reasons": [Reason.AT_CAPACITY, "inactive"],
        "by_partner": {3: 2, 17: 1},  # keys that are not text are written as text
        "facts": {"Zürich": ("CH-ZH", 8001), "ratio": 0.25, "none": None, "yes": True},
    }
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))
    assert json.loads(json_text(value))["by_partner"] == {"3": 2, "17": 1}
