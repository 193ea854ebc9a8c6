{ pkgs }: {
  deps = [
    pkgs.python311
    pkgs.python311Packages.pip
    pkgs.sqlite
    pkgs.fribidi # right-to-left names (Arabic) in the chart pictures
  ];
}
