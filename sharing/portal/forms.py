"""Flask-WTF forms: every state-changing portal form carries a CSRF token and labels.

Filter forms (GET) switch CSRF off: they change nothing and must be bookmarkable.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from sharing.identifiers import KINDS
from sharing.models.accounts import ROLES, SCOPES

TLPS = ("clear", "green", "amber", "amber+strict", "red")


class GetForm(FlaskForm):
    class Meta:
        csrf = False


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()
    submit = SubmitField("Log in")


class CodeForm(FlaskForm):
    code = StringField(
        "Six-digit code from your authenticator app",
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="six digits")],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )
    submit = SubmitField("Verify")


class ConfirmForm(FlaskForm):
    """A button with nothing but a CSRF token (logout, revoke...)."""

    submit = SubmitField("Confirm")


class BundleUploadForm(FlaskForm):
    bundle = FileField("STIX 2.1 bundle (JSON)", validators=[FileRequired()])
    submit = SubmitField("Upload bundle")


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    scopes = MultiCheckbox("Scopes", choices=[(s, s) for s in SCOPES], default=["read"])
    expires_in_days = IntegerField(
        "Expires after (days, empty: never)", validators=[Optional(), NumberRange(1, 3650)]
    )
    allowed_ips = StringField(
        "Allowed IP ranges (comma separated, optional)", validators=[Optional(), Length(max=1000)]
    )
    submit = SubmitField("Create key")


class UserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        "Initial password (12+ characters)",
        validators=[DataRequired(), Length(min=12, max=1024)],
        render_kw={"autocomplete": "new-password"},
    )
    role = SelectField("Role", choices=[(r, r) for r in ROLES if r != "platform-admin"])
    submit = SubmitField("Add user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[(r, r) for r in ROLES if r != "platform-admin"])
    submit = SubmitField("Change role")


class ActiveForm(FlaskForm):
    active = SelectField("Account", choices=[("1", "active"), ("0", "deactivated")])
    submit = SubmitField("Save")


class OrgForm(FlaskForm):
    name = StringField("Lab name (a-z, 0-9, . _ -)", validators=[DataRequired(), Length(max=64)])
    display_name = StringField("Display name", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Add member lab")


class GroupForm(FlaskForm):
    name = StringField("Group name", validators=[DataRequired(), Length(max=64)])
    description = StringField("Description", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Create group")


class GroupMemberForm(FlaskForm):
    org = SelectField("Member lab", choices=[])
    submit = SubmitField("Add to group")


class IndicatorFilterForm(GetForm):
    kind = SelectField("Kind", choices=[("", "any")] + [(k, k) for k in KINDS], default="")
    tlp = SelectField("TLP", choices=[("", "any")] + [(t, t) for t in TLPS], default="")
    campaign = SelectField("Campaign", choices=[("", "any")], default="")
    since = DateField("Reported since", validators=[Optional()])
    until = DateField("Reported until", validators=[Optional()])
    mine = BooleanField("Only my lab's reports")


class AuditFilterForm(GetForm):
    action = StringField("Action starts with", validators=[Optional(), Length(max=64)])
    actor = StringField("Actor", validators=[Optional(), Length(max=100)])
    since = DateField("Since", validators=[Optional()])
    until = DateField("Until", validators=[Optional()])
