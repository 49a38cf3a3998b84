"""REST API and (later) dashboard of the appliance."""

from appliance.api.app import AppContext, create_app

__all__ = ["AppContext", "create_app"]
