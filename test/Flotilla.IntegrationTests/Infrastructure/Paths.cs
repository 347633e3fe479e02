using System.Reflection;

namespace Flotilla.IntegrationTests.Infrastructure;

/// <summary>Where the built binaries are: same configuration as these tests.</summary>
internal static class Paths
{
    public static string Configuration { get; } =
        typeof(Paths).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    public static string RepositoryRoot { get; } = FindRoot();

    public static string FlotillaDll => Built("src/Flotilla", "flotilla.dll");

    public static string ShopDll => Built("samples/Shop", "Shop.dll");

    private static string Built(string project, string file)
    {
        var path = Path.Combine(RepositoryRoot, project, "bin", Configuration, "net10.0", file);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is missing: build the solution in {Configuration} first", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Flotilla.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Flotilla.slnx not found above " + AppContext.BaseDirectory);
    }
}
