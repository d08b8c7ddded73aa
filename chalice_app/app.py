"""sesame Chalice app: creates the app and registers the blueprints; everything else lives in chalicelib/."""

from chalice import Chalice
from chalicelib import (
    campaigns_api,
    cold_start_middleware,
    counters_handler,
    dashboard,
    events_handlers,
    forwarding,
    messages_api,
    operate,
    sending,
    tracking_api,
    unsubscribe,
)

app = Chalice(app_name="sesame")
app.debug = False
app.experimental_feature_flags.update({"BLUEPRINTS"})
app.register_middleware(cold_start_middleware, "http")

for blueprint in (
    events_handlers.bp,
    sending.bp,
    campaigns_api.bp,
    messages_api.bp,
    operate.bp,
    tracking_api.bp,
    unsubscribe.bp,
    forwarding.bp,
    counters_handler.bp,
    dashboard.bp,
):
    app.register_blueprint(blueprint)
