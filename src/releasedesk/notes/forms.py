from __future__ import annotations

from django import forms

from releasedesk.notes.choices import NOTE_CHANNELS, Channel


class NoteForm(forms.Form):
    title = forms.CharField(max_length=300)
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 20, "class": "mono"}), required=False
    )
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2_147_483_647)


class PublishForm(forms.Form):
    channels = forms.MultipleChoiceField(
        choices=[(c, Channel(c).label) for c in NOTE_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class RevisionForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2_147_483_647)
