import nudgeflow.channels as channels
import nudgeflow.channels.standins
from nudgeflow.channels.base import Channel


def test_public_names_resolve():
    for module in (channels, nudgeflow.channels.standins):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_adapters_satisfy_the_channel_protocol():
    assert isinstance(channels.RecordingChannel(), Channel)
    assert isinstance(channels.SendGridEmailChannel("SG.x", "a@b.c"), Channel)
    assert isinstance(channels.SlackChannel("xoxb-x"), Channel)
