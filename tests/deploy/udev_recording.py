"""Recorded udev devices (umockdev's format) of the USB-serial adapters readers and scanners use.

Each adapter is the chain the kernel shows for it on a Raspberry Pi: the tty, the usb-serial
port (for ttyUSB), the USB interface with its driver, the USB device with the chip's
vendor/product ids and no serial number (cheap bridges have none), then the hub and the root
hub. `record()` writes that chain in the text format `umockdev-record` produces, for
`umockdev-run` to present as /sys to the real `udevadm test`.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTROLLER = "/devices/platform/soc/3f980000.usb"  # a Pi 3's dwc_otg; its built-in hub is 1-1


@dataclass(frozen=True)
class Adapter:
    vendor: str
    product: str
    interface_driver: str  # e.g. ch341, cp210x, cdc_acm
    port_driver: str | None  # the usb-serial driver of ttyUSB ports; None for ttyACM
    product_name: str
    interface_class: str = "ff"


CH340 = Adapter("1a86", "7523", "ch341", "ch341-uart", "USB2.0-Serial")
PL2303 = Adapter("067b", "2303", "pl2303", "pl2303", "USB-Serial Controller")
CP210X = Adapter("10c4", "ea60", "cp210x", "cp210x", "CP2102 USB to UART Bridge Controller")
FTDI = Adapter("0403", "6001", "ftdi_sio", "ftdi_sio", "FT232R USB UART")
CDC_ACM = Adapter("0c2e", "0ca1", "cdc_acm", None, "Barcode Scanner", interface_class="02")
# A CH9102 (a newer WCH chip the rules do not name): it must be left to the defaults.
CH9102 = Adapter("1a86", "55d4", "cdc_acm", None, "USB Single Serial", interface_class="02")


def _driver(path: str, bus: str, driver: str) -> str:
    """The `driver` link udev reads DRIVERS== from (the DRIVER property alone is not enough)."""
    up = "../" * path.strip("/").count("/")
    return f"L: driver={up}../bus/{bus}/drivers/{driver}"


def record(adapter: Adapter, port: str, tty: str) -> str:
    """The chain for `adapter` on hub port `port` (e.g. "3" -> USB device 1-1.3) as `tty`."""
    usb = f"{CONTROLLER}/usb1/1-1/1-1.{port}"
    interface = f"{usb}/1-1.{port}:1.0"
    number = int(tty.removeprefix("ttyUSB").removeprefix("ttyACM"))
    major = 188 if tty.startswith("ttyUSB") else 166
    blocks = []
    if adapter.port_driver is None:
        blocks.append(
            [
                f"P: {interface}/tty/{tty}",
                f"N: {tty}",
                f"E: DEVNAME=/dev/{tty}",
                f"E: MAJOR={major}",
                f"E: MINOR={number}",
                "E: SUBSYSTEM=tty",
            ]
        )
    else:
        blocks.append(
            [
                f"P: {interface}/{tty}/tty/{tty}",
                f"N: {tty}",
                f"E: DEVNAME=/dev/{tty}",
                f"E: MAJOR={major}",
                f"E: MINOR={number}",
                "E: SUBSYSTEM=tty",
            ]
        )
        blocks.append(
            [
                f"P: {interface}/{tty}",
                f"E: DRIVER={adapter.port_driver}",
                "E: SUBSYSTEM=usb-serial",
                "A: port_number=0",
                _driver(f"{interface}/{tty}", "usb-serial", adapter.port_driver),
            ]
        )
    ids = f"{adapter.vendor}/{adapter.product}/100"
    blocks.append(
        [
            f"P: {interface}",
            "E: DEVTYPE=usb_interface",
            f"E: DRIVER={adapter.interface_driver}",
            f"E: PRODUCT={ids}",
            _driver(interface, "usb", adapter.interface_driver),
            "E: SUBSYSTEM=usb",
            f"A: bInterfaceClass={adapter.interface_class}",
            "A: bInterfaceNumber=00",
            "A: bInterfaceSubClass=00",
            "A: bNumEndpoints=03",
        ]
    )
    blocks.append(
        [
            f"P: {usb}",
            f"N: bus/usb/001/00{port}",
            "E: BUSNUM=001",
            f"E: DEVNUM=00{port}",
            "E: DEVTYPE=usb_device",
            "E: DRIVER=usb",
            f"E: PRODUCT={ids}",
            "E: SUBSYSTEM=usb",
            "A: bDeviceClass=00",
            "A: bcdDevice=0100",
            "A: busnum=1",
            f"A: devnum={port}",
            f"A: devpath=1.{port}",
            f"A: idProduct={adapter.product}",
            f"A: idVendor={adapter.vendor}",
            f"A: product={adapter.product_name}",
            "A: speed=12",
            _driver(usb, "usb", "usb"),
        ]
    )
    for path, devnum, devpath, vendor, product in (
        (f"{CONTROLLER}/usb1/1-1", 2, "1", "0424", "9514"),
        (f"{CONTROLLER}/usb1", 1, "0", "1d6b", "0002"),
    ):
        blocks.append(
            [
                f"P: {path}",
                "E: DEVTYPE=usb_device",
                "E: DRIVER=usb",
                "E: SUBSYSTEM=usb",
                "A: busnum=1",
                f"A: devnum={devnum}",
                f"A: devpath={devpath}",
                f"A: idVendor={vendor}",
                f"A: idProduct={product}",
            ]
        )
    blocks.append([f"P: {CONTROLLER}", "E: DRIVER=dwc_otg", "E: SUBSYSTEM=platform"])
    blocks.append(["P: /devices/platform/soc", "E: SUBSYSTEM=platform"])
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
