"""kombu's filesystem transport, made safe for several processes: a message file appears only when complete.

kombu 5.7's `_put` creates `<name>.msg` and then writes it, so a worker polling the folder can move and read a
still-empty file and die on the JSON error (seen with three concurrent jobs). Here the payload is written to a
hidden temporary name that `_get` ignores, then renamed into place, which is atomic on one filesystem.
"""

import os
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(filesystem.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4()}")
        try:
            with open(partial, "wb") as handle:
                handle.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
