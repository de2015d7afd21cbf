"""URL routes for Anymail's webhooks: include under any prefix.

    path("anymail/", include("anymail.urls"))

The ESP webhook views are added here as they are implemented.
"""

app_name = "anymail"

urlpatterns = []
