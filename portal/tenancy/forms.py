"""Forms of login, account and administration pages."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from portal.forms import PortalForm
from portal.tenancy.passwords import MAX_LENGTH, password_problems
from portal.tenancy.roles import Role

_PASSWORD_LENGTH = Length(
    max=MAX_LENGTH, message=f"Passwords have at most {MAX_LENGTH} characters."
)
EMAIL = Email(message="Enter a valid e-mail address.")


def password_policy(form: PortalForm, field: object) -> None:
    """The password rules, checked with the other fields so every error shows at once."""
    email_field = getattr(form, "email", None)
    problems = password_problems(field.data or "", email=email_field.data if email_field else "")
    if problems:
        raise ValidationError(" ".join(problems))


class LoginForm(PortalForm):
    email = EmailField("E-mail", validators=[DataRequired("Enter your e-mail."), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), _PASSWORD_LENGTH]
    )


class ChooseTenantForm(PortalForm):
    account = RadioField("Programme", coerce=int, validators=[DataRequired("Choose a programme.")])


class ChangePasswordForm(PortalForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), _PASSWORD_LENGTH],
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired("Enter a new password."), password_policy]
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired("Repeat the new password."),
            EqualTo("new_password", "The two entries differ."),
        ],
    )


class UserForm(PortalForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the person's name."), Length(max=120)]
    )
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter an e-mail address."), Length(max=254), EMAIL]
    )
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role])
    partner_id = SelectField("Partner (partner users only)", coerce=lambda v: int(v) if v else None)
    password = PasswordField(
        "Initial password", validators=[DataRequired("Set an initial password."), password_policy]
    )


class ApiKeyForm(PortalForm):
    name = StringField("Name", validators=[DataRequired("Name the key."), Length(max=80)])


class ConfirmForm(PortalForm):
    """An empty form: a POST-only action with its CSRF token."""
