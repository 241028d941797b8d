"""The relay's own masked text frames read back, through websockets' server parser, as sent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.protocol import SERVER, Protocol, State

from agent_rt.relay.client_frames import MaskSource, masked_text_frame


def _server_reads(wire: bytes) -> list[Frame]:
    server = Protocol(SERVER, state=State.OPEN, max_size=None)  # past the handshake: frames only
    server.receive_data(wire)
    assert server.parser_exc is None
    return [event for event in server.events_received() if isinstance(event, Frame)]


@settings(max_examples=200)
@given(
    text=st.text(max_size=300)
    | st.sampled_from([0, 1, 125, 126, 127, 65535, 65536, 70000]).map(lambda n: "a" * n)
    | st.integers(min_value=120, max_value=70_000).map(lambda n: "é" * n)
)
def test_a_frame_reads_back_as_the_text_sent(text: str) -> None:
    masks = MaskSource()
    (frame,) = _server_reads(masked_text_frame(text.encode(), masks.take()))
    assert frame.opcode is Opcode.TEXT
    assert frame.fin
    assert bytes(frame.data).decode() == text


def test_frames_in_a_row_read_back_in_order() -> None:
    masks = MaskSource()
    texts = [f'{{"type":"input_audio_buffer.append","n":{n}}}' for n in range(3000)]
    wire = b"".join(masked_text_frame(text.encode(), masks.take()) for text in texts)
    assert [bytes(frame.data).decode() for frame in _server_reads(wire)] == texts


def test_masks_are_never_reused_across_refills() -> None:
    masks = MaskSource()
    taken = [masks.take() for _ in range(3 * 1024 + 7)]  # three refills and then some
    assert all(len(mask) == 4 for mask in taken)
    # 3,079 draws of 32 random bits: a repeat would mean a byte was used twice (p < 0.002 otherwise)
    assert len(set(taken)) == len(taken)
